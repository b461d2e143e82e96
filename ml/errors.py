"""The one base of the project's expected failures."""


class ProjectError(Exception):
    """An expected failure: the command line shows its message as one line and exits with code 1.

    Every error a user can cause or fix (bad settings, data, artifacts, AWS answers, Terraform) derives
    from it; anything else is a bug and keeps its traceback.
    """
