from libcpp.vector cimport vector


def squares(int n):
    cdef vector[int] v
    cdef int i
    for i in range(n):
        v.push_back(i * i)
    return [x for x in v]
