"""minitorch.nn: modules, functional, init, utils."""
