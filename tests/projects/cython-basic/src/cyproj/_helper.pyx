cdef int twice(int x):
    return 2 * x


def twice_plus_offset(int x):
    return twice(x) + offset()
