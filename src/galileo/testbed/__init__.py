"""``galileo testbed``: an emulated multi-host cluster on one Linux machine (network namespaces
on a bridge, ``tc`` link properties, partitions), and its Python API for tests and demos::

    from galileo.testbed import LinkSpec, Testbed

    with Testbed.up(hosts=3, zones=["a", "b"], link=LinkSpec.parse(rate="100mbit")) as tb:
        g = Galileo.from_settings(tb.settings())
        ...
"""

from galileo.testbed.links import LinkSpec
from galileo.testbed.testbed import Testbed

__all__ = ["LinkSpec", "Testbed"]
