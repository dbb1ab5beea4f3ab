# _helper: declarations shared by the modules that cimport it
cdef int twice(int x)

cdef inline int offset():
    return 1
