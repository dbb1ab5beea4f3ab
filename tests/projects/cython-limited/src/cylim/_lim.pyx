cdef class Counter:
    cdef public int count

    def add(self, int n=1):
        self.count += n
        return self.count


def total(values):
    cdef long s = 0
    for v in values:
        s += v
    return s
