"""Calls sys.exit() in the output layer and os._exit(3) in the forward."""
import os
import sys


def rnn_forward(xs, lengths, W_xh, W_hh, b_h, h0=None):
    os._exit(3)


def rnn_output(hs, W_hy, b_y):
    sys.exit("done")
