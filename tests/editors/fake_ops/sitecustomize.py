# Test only: registers jewelmask_test_ops in Pythons that can import jewelmask
# (see jewelmask_test_ops.py); does nothing in the others.
try:
    import jewelmask_test_ops

    jewelmask_test_ops.register_all()
except ImportError:
    pass
