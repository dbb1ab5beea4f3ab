from libc.math cimport sqrt

from cyproj._helper cimport offset, twice


cdef extern from "fast_const.h":
    int FAST_CONST


def f(int x):
    return twice(x) + offset() + FAST_CONST


def root(double x):
    return sqrt(x)


def div(int a, int b):
    return a // b
