"""The project store: SQLite (WAL) with numbered migrations, files written atomically; and the
thumbnail cache (its own SQLite file). No SQL lives outside this package."""

from core.store.errors import (
    ClassNotFoundError,
    ImageNotFoundError,
    InvalidValueError,
    NeedsTrainingError,
    NotFoundError,
    ProjectExistsError,
    ProjectLockedError,
    ProjectNotFoundError,
    RunNotFoundError,
    SchemaTooNewError,
    StoreError,
)
from core.store.events import default_actor
from core.store.project import DB_NAME, Project
from core.store.records import (
    ClassKind,
    Event,
    Image,
    ImageClass,
    Label,
    MaskInfo,
    NewImage,
    PredictionState,
    ProjectSummary,
    Run,
    RunKind,
    RunStatus,
)

__all__ = [
    "DB_NAME", "ClassKind", "ClassNotFoundError", "Event", "Image", "ImageClass", "ImageNotFoundError",
    "InvalidValueError", "Label", "MaskInfo", "NeedsTrainingError", "NewImage", "NotFoundError", "PredictionState",
    "Project", "ProjectExistsError", "ProjectLockedError", "ProjectNotFoundError", "ProjectSummary", "Run", "RunKind",
    "RunNotFoundError", "RunStatus",
    "SchemaTooNewError", "StoreError", "default_actor",
]
