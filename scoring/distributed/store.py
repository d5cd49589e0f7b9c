"""The output directory on any filesystem: atomic part files, the merged file, and ``_SUCCESS`` last."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from contract.temporaries import HOST, alive
from contract.text import capped
from scoring.distributed.storage import canonical, filesystem, is_local, single_put
from scoring.errors import ScoringError

SUCCESS = "_SUCCESS"
#: A running job's claim on OUT_DIR (its id, host, pid and start time), made by an exclusive create (O_EXCL
#: locally, a conditional PUT, If-None-Match: *, on S3): a second job into the same OUT_DIR fails at once,
#: whenever it starts. The job removes it when it ends, however it ends short of SIGKILL.
CLAIM = "_RUNNING"
MERGED = "scored.csv"
#: The merged file and the part files' suffix for each output format.
MERGED_NAMES = {"csv": MERGED, "parquet": "scored.parquet"}
OUTPUT_FORMATS = tuple(MERGED_NAMES)
#: Everything a job writes, and their temporary names: the only files --overwrite may remove.
PART = re.compile(r"part-\d{5,}-\d{6,}\.(?:csv|parquet)")
JOB_FILE = re.compile(rf"(?:{PART.pattern}|{'|'.join(map(re.escape, MERGED_NAMES.values()))}|{SUCCESS})")
TEMPORARY = re.compile(rf"\.{JOB_FILE.pattern}\.[0-9a-f]{{32}}\.tmp")


def part_name(file_index: int, block_index: int, fmt: str) -> str:
    """Zero-padded, so sorting the names gives the input order."""
    return f"part-{file_index:05d}-{block_index:06d}.{fmt}"


def temporary_name(name: str) -> str:
    return f".{name}.{uuid.uuid4().hex}.tmp"


def _claim_attempt(name: str) -> bool:
    """A temporary that another job writes while it tries to claim OUT_DIR: it removes it when its link fails."""
    return name.startswith(f".{CLAIM}.") and name.endswith(".tmp")


class OutputStore:
    """OUT_DIR as a local directory or an object-store prefix, written through fsspec.

    Each file appears whole or not at all: locally (and on other filesystems with a rename) it is written to
    a temporary name and renamed; on an object store one upload makes it appear, so it is written in place.
    """

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.options = options or {}
        self.fs, root = filesystem(url, self.options)
        self.root = root.rstrip("/") or root
        self.url = canonical(self.fs, self.root)
        self.local = is_local(self.fs)
        self.single_put = single_put(self.fs)

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def display(self, name: str = "") -> str:
        return f"{self.url.rstrip('/')}/{name}"

    def names(self) -> list[str]:
        """Names directly under OUT_DIR (none if it does not exist yet)."""
        self.fs.invalidate_cache(self.root)  # listings are cached; workers wrote behind this client's back
        try:
            return sorted(os.path.basename(p.rstrip("/")) for p in self.fs.ls(self.root, detail=False))
        except FileNotFoundError:
            return []

    def contains(self, url: str) -> bool:
        """Whether ``url`` (a canonical input) lies inside OUT_DIR, following symbolic links locally."""
        if self.local:
            if "://" in url:
                return False
            root, path = os.path.realpath(self.root), os.path.realpath(url)
        else:
            root, path = self.url.rstrip("/"), url
        return path == root or path.startswith(root.rstrip("/") + "/")

    def check(self, overwrite: bool) -> None:
        """Before the job: OUT_DIR must be a directory, and empty unless ``overwrite`` (the client, early)."""
        if self.fs.isfile(self.root):
            raise ScoringError(f"Output path {self.display()} exists and is not a directory; choose a directory.")
        bucket = self.root.split("/", 1)[0]
        if self.single_put and not self.fs.exists(bucket):  # the job never creates buckets
            raise ScoringError(f"Output bucket {self.fs.unstrip_protocol(bucket)} does not exist (or is not "
                               f"visible with these credentials); create it or choose another OUT_DIR.")
        self._check_contents(self.names(), overwrite)

    def _check_contents(self, names: list[str], overwrite: bool) -> None:
        if CLAIM in names:
            raise ScoringError(self._claimed())
        if names and not overwrite:
            raise ScoringError(f"Output directory {self.display()} is not empty; pass --overwrite to replace the "
                               "part files, scored.csv/.parquet and _SUCCESS of an earlier job, or choose an empty one.")

    def claim(self, job: str, overwrite: bool) -> None:
        """Take OUT_DIR for ``job`` with an exclusive create of ``_RUNNING``, then check again that it is empty (or
        ``overwrite``): the client's early check may be long past, and another job may have run since."""
        if not self.single_put:  # object stores have no directories (and makedirs could create a bucket)
            self.fs.makedirs(self.root, exist_ok=True)
        mine = {"job": job, "host": HOST, "pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        try:
            self._create(CLAIM, (json.dumps(mine) + "\n").encode())
        except FileExistsError:
            raise ScoringError(self._claimed()) from None
        if self._claim_holder().get("job") != job:  # a store that cannot create exclusively lets the last one win
            raise ScoringError(self._claimed())
        try:
            # Another job's attempt to claim (its temporary, gone in a moment) does not make OUT_DIR taken: counted,
            # it made both jobs fail, the holder and the one that came second.
            self._check_contents([n for n in self.names() if n != CLAIM and not _claim_attempt(n)], overwrite)
        except BaseException:
            self.release(job)
            raise

    def _create(self, name: str, data: bytes) -> None:
        """Create OUT_DIR/name holding ``data``, or raise FileExistsError: in one step where the store can (fsspec's
        generic ``mode="create"`` checks, then writes)."""
        if self.local:  # written whole under a temporary name, then hard-linked: link(2) never replaces a file
            tmp = self.path(temporary_name(name))
            try:
                with open(tmp, "xb") as handle:
                    handle.write(data)
                    os.fsync(handle.fileno())
                os.link(tmp, self.path(name))
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        elif self.single_put:  # s3fs: a conditional PUT (If-None-Match: *)
            self.fs.pipe_file(self.path(name), data, mode="create")
        else:
            with self.fs.open(self.path(name), "xb") as handle:
                handle.write(data)

    def release(self, job: str) -> None:
        """Remove the claim, if it is ``job``'s."""
        if self._claim_holder().get("job") == job:
            self.remove(CLAIM)

    def _claim_holder(self) -> dict[str, Any]:
        try:
            holder = json.loads(self.fs.cat_file(self.path(CLAIM)))
        except (OSError, ValueError):
            return {}
        return holder if isinstance(holder, dict) else {}

    def _claimed(self) -> str:
        """Who holds OUT_DIR, and what to do about it."""
        holder = self._claim_holder()
        who = (f"job {holder.get('job')} (host {holder.get('host')}, pid {holder.get('pid')}, started "
               f"{holder.get('started')})") if holder else "another job"
        gone = holder.get("host") == HOST and isinstance(holder.get("pid"), int) and not alive(holder["pid"])
        state = (f"its process {holder['pid']} on this host is gone, so it was killed: remove {self.display(CLAIM)} "
                 "and run again" if gone else
                 f"wait for it to finish or choose another OUT_DIR; if it was killed, remove {self.display(CLAIM)}")
        return f"Output directory {self.display()} is being written by {who}: {state}."

    def prepare(self, overwrite: bool) -> None:
        """Remove an earlier job's files (only those; ``_SUCCESS`` first) and make sure OUT_DIR exists."""
        if overwrite:
            self.remove(SUCCESS)  # first: a half-replaced directory never looks complete
            for name in self.names():
                if JOB_FILE.fullmatch(name) or TEMPORARY.fullmatch(name):
                    self.remove(name)
        if not self.single_put:  # object stores have no directories (and makedirs could create a bucket)
            self.fs.makedirs(self.root, exist_ok=True)

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(name))

    def sweep(self, name: str | None = None) -> list[str]:
        """Remove temporaries left by killed or retried writers (of ``name`` only, if given)."""
        stale = [n for n in self.names() if TEMPORARY.fullmatch(n) and (name is None or n.startswith(f".{name}."))]
        for n in stale:
            self.remove(n)
        return stale

    def put(self, local: str | Path, name: str) -> None:
        """Publish a finished local file as OUT_DIR/name, atomically."""
        if self.single_put:
            self.fs.put_file(str(local), self.path(name))
            return
        self.sweep(name)  # a retried block: its earlier attempt may have died mid-copy
        tmp = self.path(temporary_name(name))
        try:
            self.fs.put_file(str(local), tmp)
            self.fs.mv(tmp, self.path(name))
        except BaseException:
            with contextlib.suppress(OSError):
                self.fs.rm_file(tmp)
            raise

    @contextlib.contextmanager
    def writer(self, name: str) -> Iterator[IO[bytes]]:
        """A binary handle whose content appears as OUT_DIR/name when the block exits without an error."""
        if self.single_put:  # staged locally, then one upload: a failed write never leaves a partial object
            with tempfile.TemporaryDirectory(prefix="wdbc-out-") as tmp:
                local = Path(tmp) / name
                with open(local, "wb") as handle:
                    yield handle
                self.put(local, name)
            return
        tmp = self.path(temporary_name(name))
        try:
            with self.fs.open(tmp, "wb") as handle:
                yield handle
            self.fs.mv(tmp, self.path(name))
        except BaseException:
            with contextlib.suppress(OSError):
                self.fs.rm_file(tmp)
            raise

    def check_parts(self, planned: Sequence[str]) -> None:
        """OUT_DIR's part files must be exactly ``planned`` (the job's own) before they are merged or marked done:
        ``_SUCCESS`` vouches for what is there."""
        present = {n for n in self.names() if PART.fullmatch(n)}
        missing, foreign = sorted(set(planned) - present), sorted(present - set(planned))
        if missing:
            raise ScoringError(f"Output directory {self.display()} lacks {len(missing)} part file(s) this job wrote "
                               f"({capped(missing)}): something removed them while it ran. No {SUCCESS} was written.")
        if foreign:
            raise ScoringError(f"Output directory {self.display()} holds {len(foreign)} part file(s) this job did not "
                               f"write ({capped(foreign)}): another writer used it meanwhile. No {SUCCESS} was written.")

    def merge(self, fmt: str, parts: Sequence[str]) -> str:
        """Concatenate ``parts`` (of ``fmt``), in order, into scored.csv (header once) or scored.parquet
        (their row groups appended one at a time), atomically."""
        if fmt == "parquet":
            return self._merge_parquet(parts)
        with self.writer(MERGED) as out:
            for i, name in enumerate(parts):
                with self.fs.open(self.path(name), "rb") as part:
                    header = part.readline()
                    if i == 0:
                        out.write(header)
                    while chunk := part.read(1 << 22):
                        out.write(chunk)
        return self.display(MERGED)

    def _merge_parquet(self, parts: Sequence[str]) -> str:
        import pyarrow.parquet as pq

        from scoring.io.parquet import READ_OPTIONS, WRITE_OPTIONS

        name = MERGED_NAMES["parquet"]
        with self.writer(name) as out, contextlib.ExitStack() as stack:
            writer = None
            for part_name in parts:
                with self.fs.open(self.path(part_name), "rb") as handle:
                    part = pq.ParquetFile(handle, **READ_OPTIONS)
                    if writer is None:  # every part has the job's one output schema (checked by the plan)
                        writer = stack.enter_context(pq.ParquetWriter(out, part.schema_arrow, **WRITE_OPTIONS))
                    for i in range(part.num_row_groups):  # one row group in memory at a time
                        writer.write_table(part.read_row_group(i).cast(writer.schema))
        return self.display(name)

    def write_success(self, text: str) -> None:
        with self.writer(SUCCESS) as out:
            out.write(text.encode())
