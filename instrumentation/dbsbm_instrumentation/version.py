# One distribution, one version: the runtime library's, which every package reports.
from dbsbm_resilience.version import __version__ as __version__
