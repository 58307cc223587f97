/* yamlcount._yamlcount: parse YAML with libyaml and count the parser events. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <yaml.h>

static PyObject *
count_events(PyObject *self, PyObject *args)
{
    const char *data;
    Py_ssize_t size;
    yaml_parser_t parser;
    yaml_event_t event;
    long count = 0;
    int done = 0;

    if (!PyArg_ParseTuple(args, "s#:count_events", &data, &size))
        return NULL;
    if (!yaml_parser_initialize(&parser))
        return PyErr_NoMemory();
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, (size_t)size);
    while (!done) {
        if (!yaml_parser_parse(&parser, &event)) {
            PyErr_Format(PyExc_ValueError, "invalid YAML at line %lu: %s",
                         (unsigned long)parser.problem_mark.line + 1,
                         parser.problem ? parser.problem : "parse error");
            yaml_parser_delete(&parser);
            return NULL;
        }
        done = (event.type == YAML_STREAM_END_EVENT);
        yaml_event_delete(&event);
        count++;
    }
    yaml_parser_delete(&parser);
    return PyLong_FromLong(count);
}

static PyObject *
libyaml_version(PyObject *self, PyObject *unused)
{
    return PyUnicode_FromString(yaml_get_version_string());
}

static PyMethodDef methods[] = {
    {"count_events", count_events, METH_VARARGS,
     "count_events(text) -> number of libyaml parser events in the YAML text."},
    {"libyaml_version", libyaml_version, METH_NOARGS,
     "libyaml_version() -> version of the libyaml the extension runs with."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "yamlcount._yamlcount", NULL, -1, methods
};

PyMODINIT_FUNC
PyInit__yamlcount(void)
{
    return PyModule_Create(&module);
}
