#include <Python.h>
static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, "_mixed_top", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__mixed_top(void) { return PyModule_Create(&d); }
