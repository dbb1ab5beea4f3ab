#include <Python.h>
#include "pcdemo.h"
#if defined(PCDEMO_VIA_PKG_CONFIG)
#define HOW "pkg-config"
#elif defined(PCDEMO_BUNDLED)
#define HOW "fallback"
#else
#define HOW "neither"
#endif
static PyObject* get(PyObject* self, PyObject* args) {
    (void)self; (void)args;
    return Py_BuildValue("(iss)", pcdemo_answer(), pcdemo_origin(), HOW);
}
static PyMethodDef methods[] = {{"get", get, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "pcext", NULL, -1, methods};
PyMODINIT_FUNC PyInit_pcext(void) { return PyModule_Create(&def); }
