"""``lume download`` from a hub: resolve, list, check the space, then ``snapshot_download``.

The revision is resolved to a commit first (``repo_info``); the file listing at that
commit gives the announced sizes, so the disk space is checked before anything is
written; then ``snapshot_download`` pinned to the commit fetches the files the kit needs
into ``ROOT/<track's local name>``. Files already complete at that commit are kept (a
re-run resumes and says so); a connection cut inside a file is resumed with a Range
request by ``huggingface_hub`` itself. The token is ``--token``, ``--token-file``, else
``HF_TOKEN`` or the cached login; every hub error becomes one line a user can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scorer.errors import LumeError
from starter_kit.layout import (
    ALLOW,
    IGNORE,
    Fetched,
    Plan,
    Repository,
    check_space,
    file_records,
    missing_required,
    wanted_files,
    write_manifest,
)

DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class HubAccess:
    """Where and as whom to download."""

    endpoint: str | None = None  # None: HF_ENDPOINT or huggingface.co
    token: str | None = None  # None: HF_TOKEN or the cached login

    def base(self) -> str:
        from huggingface_hub import constants

        return (self.endpoint or constants.ENDPOINT or DEFAULT_ENDPOINT).rstrip("/")

    def has_token(self) -> bool:
        if self.token:
            return True
        from huggingface_hub import get_token

        return get_token() is not None


def read_token(token: str | None, token_file: Path | None) -> str | None:
    """``--token`` wins, then ``--token-file``; None lets huggingface_hub use HF_TOKEN or
    the cached login."""
    if token is not None and token_file is not None:
        raise LumeError("--token and --token-file: give one")
    if token_file is None:
        return token.strip() if token else None
    try:
        text = token_file.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise LumeError(f"--token-file {token_file}: cannot read ({err.strerror})") from None
    if not text or len(text.split()) != 1:
        raise LumeError(f"--token-file {token_file}: expected one token on one line")
    return text


def _repo_page(access: HubAccess, repo: Repository) -> str:
    prefix = "datasets/" if repo.repo_type == "dataset" else ""
    return f"{access.base()}/{prefix}{repo.repo_id}"


def hub_error(err: Exception, repo: Repository, access: HubAccess, revision: str) -> LumeError:
    """A huggingface_hub or connection error as one line a user can act on."""
    from huggingface_hub import errors

    page = _repo_page(access, repo)
    status = getattr(getattr(err, "response", None), "status_code", None)
    if isinstance(err, errors.RevisionNotFoundError):
        return LumeError(f"{repo.repo_id}: no revision {revision!r} at {access.base()}")
    if isinstance(err, errors.GatedRepoError) or status in (401, 403):
        if not access.has_token():
            return LumeError(
                f"{repo.repo_id} is gated and no token was given: pass --token or "
                f"--token-file, set HF_TOKEN or run `hf auth login`; request access at {page}"
            )
        return LumeError(
            f"{repo.repo_id}: the token was refused (HTTP {status}): request access at {page} "
            "and check that the token can read gated repositories"
        )
    if isinstance(err, errors.RepositoryNotFoundError) or status == 404:
        return LumeError(f"{repo.repo_id}: repository not found at {access.base()}")
    return LumeError(
        f"{repo.repo_id}: download interrupted ({type(err).__name__}: "
        f"{' '.join(str(err).split())[:200]}); run the same command again to resume"
    )


def _http_error() -> type[BaseException]:
    """The HTTP client's error base: huggingface_hub 2.x talks through ``httpx2``, 1.x
    through ``httpx`` (each brings its own; both are allowed)."""
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx
    return httpx.HTTPError


def _transient() -> tuple[type[BaseException], ...]:
    from huggingface_hub import errors

    return (OSError, errors.HfHubHTTPError, _http_error(), errors.LocalEntryNotFoundError)


def plan_hub(repo: Repository, access: HubAccess, revision: str) -> Plan:
    """Resolve the revision to a commit and list the files the kit needs, with sizes."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=access.endpoint, token=access.token)
    try:
        info = api.repo_info(repo.repo_id, repo_type=repo.repo_type, revision=revision)
        commit = info.sha
        listing = {
            f.path: f.size
            for f in api.list_repo_tree(
                repo.repo_id, repo_type=repo.repo_type, revision=commit, recursive=True
            )
            if isinstance(f, RepoFile)
        }
    except _transient() as err:
        raise hub_error(err, repo, access, revision) from None
    files = wanted_files(repo.kind, listing)
    missing = missing_required(repo.kind, files)
    if missing:
        raise LumeError(
            f"{repo.repo_id} at {commit[:12]}: no file matches {', '.join(missing)} "
            "(is it the right repository?)"
        )
    return Plan(repo, revision, commit, {p: listing[p] for p in files})


def _complete(directory: Path, plan: Plan) -> set[str]:
    """Files already on disk with their announced size (huggingface_hub keeps them)."""
    return {
        p
        for p, size in plan.sizes.items()
        if (directory / p).is_file() and (directory / p).stat().st_size == size
    }


def fetch_hub(root: Path, plan: Plan, access: HubAccess, quiet: bool = False) -> Fetched:
    """``snapshot_download`` pinned to the plan's commit into ``root/<local>``."""
    from huggingface_hub import snapshot_download

    repo = plan.repository
    directory = root / repo.local
    reused = _complete(directory, plan)
    try:
        snapshot_download(
            repo.repo_id,
            repo_type=repo.repo_type,
            revision=plan.commit,
            local_dir=directory,
            allow_patterns=list(ALLOW[repo.kind]),
            ignore_patterns=list(IGNORE[repo.kind]) or None,
            token=access.token,
            endpoint=access.endpoint,
            max_workers=4,
            tqdm_class=_quiet_tqdm() if quiet else None,
        )
    except _transient() as err:
        raise hub_error(err, repo, access, plan.revision) from None
    records = file_records(directory, plan.sizes)
    for record in records:
        if record.size != plan.sizes[record.path]:
            raise LumeError(
                f"{repo.repo_id}/{record.path}: {record.size} bytes, the hub announced "
                f"{plan.sizes[record.path]}; run the same command again"
            )
    return Fetched(repo, access.base(), plan.revision, plan.commit, records, len(reused))


def _quiet_tqdm():
    from tqdm.auto import tqdm

    class Quiet(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return Quiet


def download(
    root: Path,
    repos: list[Repository],
    access: HubAccess,
    revision: str = "main",
    say: Callable[[str], None] = lambda _m: None,
    quiet: bool = False,
) -> list[Fetched]:
    """Plan every repository (commits, sizes, space), then download them; the manifest
    is written after each repository, so an interrupted run keeps what it finished."""
    for repo in repos:
        if repo.repo_id is None:
            raise LumeError(
                f"the {repo.kind} of this track has no hub repository (the mini track is "
                "built, not downloaded): `lume mini build --out DIR`, or --mirror DIR"
            )
    plans = [plan_hub(repo, access, revision) for repo in repos]
    needed = sum(
        size
        for plan in plans
        for path, size in plan.sizes.items()
        if path not in _complete(root / plan.repository.local, plan)
    )
    check_space(root, needed)
    fetched = []
    for plan in plans:
        done = _complete(root / plan.repository.local, plan)
        if done:
            say(
                f"{plan.repository.repo_id}: resuming, {len(done)} of {len(plan.sizes)} "
                "files already here"
            )
        say(f"{plan.repository.repo_id}: {len(plan.sizes)} files at {plan.commit[:12]}")
        item = fetch_hub(root, plan, access, quiet)
        write_manifest(root, None, [item])
        fetched.append(item)
    return fetched
