"""The app's dialogs: new project and import, class settings, keyboard shortcuts."""

from labelapp.dialogs.class_settings import ClassSettingsDialog
from labelapp.dialogs.import_progress import ImportProgressDialog, import_folder_interactively
from labelapp.dialogs.new_project import NewProjectDialog, create_project_interactively
from labelapp.dialogs.shortcut_settings import ShortcutSettingsDialog

__all__ = [
    "ClassSettingsDialog", "ImportProgressDialog", "NewProjectDialog", "ShortcutSettingsDialog",
    "create_project_interactively", "import_folder_interactively",
]
