#include <Python.h>
static PyObject *ok(PyObject *s, PyObject *a) { return PyUnicode_FromString("ok"); }
static PyMethodDef m[] = {{"ok", ok, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, "_ok", NULL, -1, m};
PyMODINIT_FUNC PyInit__ok(void) { return PyModule_Create(&d); }
