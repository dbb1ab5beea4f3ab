#include <Python.h>
int mixed_helper(void);
static PyObject *answer(PyObject *s, PyObject *a) { return PyLong_FromLong(mixed_helper()); }
static PyMethodDef m[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, "_both", NULL, -1, m};
PyMODINIT_FUNC PyInit__both(void) { return PyModule_Create(&d); }
