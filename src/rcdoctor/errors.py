"""The one exception tree of rcdoctor.

Library code raises these; the CLI maps each to one line and an exit code. redis-py and socket
errors are translated at the edges (collect/, lab/) so nothing above them sees a foreign exception.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_WARNING = 1
EXIT_CRITICAL = 2
EXIT_CANNOT_RUN = 3


class DoctorError(Exception):
    """Base of every error rcdoctor reports to a user."""

    exit_code = EXIT_CANNOT_RUN


class UsageError(DoctorError):
    """Bad arguments: an address that does not parse, a missing file, contradictory options."""


class ConnectError(DoctorError):
    """A node could not be reached or spoke something other than Redis."""


class AuthError(ConnectError):
    """The node refused our credentials (or wants some)."""


class TLSError(ConnectError):
    """TLS handshake failed: usually rediss:// against a plain port, or a certificate problem."""


class NotClusterError(ConnectError):
    """The server answers but has cluster support disabled."""


class SnapshotError(DoctorError):
    """A snapshot file is malformed, foreign or of an unsupported version."""


class LabError(DoctorError):
    """The local lab could not do what was asked (binary missing, port busy, process died...)."""


class FaultError(LabError):
    """A fault could not be applied or undone."""


class SourceError(DoctorError):
    """A seed source could not give any address: kubectl missing or refused, no pod matches, a seeds
    file unreadable."""
