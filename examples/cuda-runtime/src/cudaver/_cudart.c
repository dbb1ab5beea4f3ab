#include <Python.h>

/* From cuda_runtime_api.h; callable without a GPU or a driver. */
int cudaRuntimeGetVersion(int *version);

static PyObject *runtime_version(PyObject *self, PyObject *args) {
    int version = 0;
    int err = cudaRuntimeGetVersion(&version);
    if (err != 0) {
        return PyErr_Format(PyExc_RuntimeError, "cudaRuntimeGetVersion failed with error %d", err);
    }
    return PyLong_FromLong(version);
}

static PyMethodDef methods[] = {
    {"runtime_version", runtime_version, METH_NOARGS, "The CUDA runtime version, 1000 * major + 10 * minor."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cudart", NULL, -1, methods};

PyMODINIT_FUNC PyInit__cudart(void) { return PyModule_Create(&module); }
