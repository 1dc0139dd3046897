"""Import of image folders: images, class labels from folders, masks, thumbnails."""

from core.importing.importer import (
    ImportIssue,
    ImportOptions,
    ImportProgress,
    ImportReport,
    import_folder,
    iter_import,
)

__all__ = ["ImportIssue", "ImportOptions", "ImportProgress", "ImportReport", "import_folder", "iter_import"]
