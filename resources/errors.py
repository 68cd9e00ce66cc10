"""Every error backhub raises, sorted at the boundary into permanent and retryable.

    BackhubError
    ├── PermanentError              retrying cannot help; a person must act
    │   ├── ConfigurationError      a setting is missing or malformed
    │   ├── InvalidNameError        an owner, repository, ref or customer name that is unsafe to use
    │   ├── SnapshotNotFoundError   no committed manifest for (customer, date, asset)
    │   ├── DateOutsideWindowError  a snapshot asked for a future date or one already expired
    │   ├── IntegrityError          stored data is corrupt, tampered with, or not what was recorded
    │   ├── KeyringError            a keyset is missing, shredded, or the master key is wrong
    │   ├── StorageError            the object store refused a request for good
    │   │   └── ObjectNotFoundError the object does not exist
    │   ├── GitHubError             GitHub refused the request (not found, forbidden, bad credentials)
    │   │   ├── RemoteNotFoundError the remote repository or wiki does not exist
    │   │   ├── DownloadTooLargeError a download ran past the size it was allowed
    │   │   └── RemoteCorruptError  the remote repository's own data is damaged (GitHub must repair it)
    │   ├── GitCommandError         a local git command failed (not about the remote or integrity)
    │   ├── AlertRefusedError       an alert channel refused for good (bad token, unknown channel)
    │   ├── RestoreRefusedError     a restore would overwrite something and was not told to
    │   └── ClockDisagreementError  worker and store clocks disagree: expiring now could delete too much
    └── RetryableError              a fault that may pass: the same call can be tried again
        ├── StorageUnavailableError the object store did not answer or answered 5xx
        ├── GitHubUnavailableError  GitHub did not answer, answered 5xx, or rate-limited us
        └── AlertDeliveryError      an alert channel did not accept the alert this time

Messages name the operation and the object (``load blob 3fa2...: ...``) and never contain key
material or tokens. Third-party exceptions are translated with ``raise ... from exc``.
"""

from __future__ import annotations


class BackhubError(Exception):
    """Base of every error backhub raises on purpose."""


class PermanentError(BackhubError):
    """Retrying the same call cannot succeed."""


class RetryableError(BackhubError):
    """The same call may succeed if tried again later."""


class ConfigurationError(PermanentError):
    """A setting is missing or malformed."""


class InvalidNameError(PermanentError, ValueError):
    """A name that would be unsafe on a command line or in an object key."""


class SnapshotNotFoundError(PermanentError):
    """No committed snapshot exists where one was asked for."""


class IntegrityError(PermanentError):
    """Stored data does not match what was recorded: corrupt, truncated or tampered with."""


class KeyringError(PermanentError):
    """A customer keyset is missing or shredded, or the master key cannot unwrap it."""


class GitHubError(PermanentError):
    """GitHub refused a request in a way retrying cannot fix."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class StorageUnavailableError(RetryableError):
    """The object store is unreachable or failing."""


class GitHubUnavailableError(RetryableError):
    """GitHub is unreachable, failing, or rate-limiting us."""


class DateOutsideWindowError(PermanentError):
    """A snapshot was asked for a date that is in the future or already expired."""


class StorageError(PermanentError):
    """The object store refused the request in a way retrying cannot fix."""


class ObjectNotFoundError(StorageError):
    """The object does not exist."""


class RemoteNotFoundError(GitHubError):
    """The remote repository or wiki does not exist (or is not visible to this installation)."""


class DownloadTooLargeError(GitHubError):
    """A download (a release asset) ran past the number of bytes it was allowed."""


class RemoteCorruptError(GitHubError):
    """The remote could not send a repository's objects: its copy is damaged (``unable to read <sha>``)."""


class GitCommandError(PermanentError):
    """A local git command failed in a way that is not about the remote or integrity."""


class AlertDeliveryError(RetryableError):
    """A channel did not accept an alert; the message is safe to log (no URL, token or body)."""


class AlertRefusedError(PermanentError):
    """A channel refused an alert in a way retrying cannot fix (bad token, unknown channel, 4xx)."""


class RestoreRefusedError(PermanentError):
    """A restore would overwrite an existing directory or repository and was not told to."""


class ClockDisagreementError(PermanentError):
    """The worker's clock and the store's clock disagree: expiring now could delete inside the window."""
