#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "scale.h"

/* scale(list of floats) -> (list, "gpu" | "cpu") */
static PyObject *scale(PyObject *self, PyObject *arg) {
    Py_ssize_t n = PyList_Size(arg);
    if (n < 0) return NULL;
    float *buf = PyMem_Malloc(sizeof(float) * (n ? n : 1));
    if (!buf) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; ++i) buf[i] = (float)PyFloat_AsDouble(PyList_GET_ITEM(arg, i));
    const char *where = "gpu";
    if (scale_on_gpu(buf, (int)n, SCALE_FACTOR) != 0) {
        for (Py_ssize_t i = 0; i < n; ++i) buf[i] = (float)PyFloat_AsDouble(PyList_GET_ITEM(arg, i));
        scale_on_cpu(buf, (int)n, SCALE_FACTOR);
        where = "cpu";
    }
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; i < n; ++i) PyList_SET_ITEM(out, i, PyFloat_FromDouble(buf[i]));
    PyMem_Free(buf);
    return Py_BuildValue("(Ns)", out, where);
}

static PyObject *build_info(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(cuda_build_info());
}

static PyMethodDef methods[] = {
    {"scale", scale, METH_O, "multiply by SCALE_FACTOR, on the GPU when there is one"},
    {"build_info", build_info, METH_NOARGS, "the variant, CUDA runtime version and architectures compiled in"},
    {NULL, NULL, 0, NULL},
};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};
PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&mod); }
