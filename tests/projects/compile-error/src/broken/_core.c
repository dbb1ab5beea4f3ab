#include <Python.h>
int this is not C;
