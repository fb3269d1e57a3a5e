"""The long property run (``-m property_long``) runs only when asked for by name."""

LONG = "property_long"


def pytest_collection_modifyitems(config, items):
    if LONG in (config.getoption("markexpr") or ""):
        return
    deselected = [item for item in items if LONG in item.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if LONG not in item.keywords]
