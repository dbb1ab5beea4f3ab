#include <Python.h>
#error "this accelerator does not build here"
