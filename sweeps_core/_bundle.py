"""Named data frames (``DataBundle``) and an index frame selecting rows of them (``IndexedDataBundle``)."""
from __future__ import annotations

import copy as _copy
import difflib
import functools
import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from ._ctor import Obj
from ._errors import DataError

ADD_INFO_NAME = "add_info"


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def missing_frame_message(name: str, available: list[str]) -> str:
    """Shared wording for a frame that is not in a bundle."""
    return f"frame {name!r} is not in the bundle; available frames: {available}{_did_you_mean(name, available)}"


def _describe_frame(df: Any, limits: int | None) -> dict:
    if not isinstance(df, pd.DataFrame):
        return {"type": type(df).__name__}
    result = {"shape": df.shape, "index_name": df.index.name}
    if limits is not None:
        result["columns"] = list(df.columns[:limits])
        result["index"] = list(df.index[:limits])
    return result


class DataBundle:
    """Named frames, e.g. ``DataBundle(index=index_df, features=features_df)``.

    Example:
        >>> b = DataBundle(index=pd.DataFrame({'label': [0, 1]}))
        >>> b.index.shape, 'index' in b
        ((2, 1), True)
    """

    def __init__(self, **frames: pd.DataFrame) -> None:
        self.data_frames: dict[str, pd.DataFrame] = dict(frames)
        self.additional_information = Obj()

    # --- access -------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            return self.data_frames[name]
        except KeyError:
            raise KeyError(missing_frame_message(name, list(self.data_frames))) from None

    def __setitem__(self, name: str, frame: pd.DataFrame) -> None:
        self.data_frames[name] = frame

    def __getattr__(self, name: str) -> pd.DataFrame:
        # Only called when normal lookup fails; guard the internals so copy/pickle never recurse.
        if name.startswith("__") or name in ("data_frames", "additional_information"):
            raise AttributeError(name)
        frames = self.__dict__.get("data_frames", {})
        if name in frames:
            return frames[name]
        raise AttributeError(f"DataBundle has no attribute {name!r}: " + missing_frame_message(name, list(frames)))

    def __contains__(self, name: object) -> bool:
        return name in self.data_frames

    def __iter__(self) -> Iterator[str]:
        return iter(self.data_frames)

    def __len__(self) -> int:
        return len(self.data_frames)

    def copy(self) -> "DataBundle":
        """A new bundle with copies of the frames (cheap: pandas copies on write) and of the info."""
        result = DataBundle(**{k: v.copy() if hasattr(v, "copy") else v for k, v in self.data_frames.items()})
        result.additional_information = Obj(_copy.deepcopy(dict(self.additional_information)))
        return result

    # --- description --------------------------------------------------------------------------
    def describe(self, limits: int | None = None) -> dict:
        """Shape and index name of each frame; with ``limits``, also the first columns and index values."""
        return {name: _describe_frame(df, limits) for name, df in self.data_frames.items()}

    def __repr__(self) -> str:
        parts = []
        for name, info in self.describe().items():
            shape = info.get("shape")
            parts.append(f"{name}: {shape[0]}x{shape[1]}" if shape else f"{name}: {info['type']}")
        return f"DataBundle({', '.join(parts)})"

    # --- persistence --------------------------------------------------------------------------
    def _check_names_for_saving(self) -> None:
        bad = [n for n in self.data_frames if n == ADD_INFO_NAME or not _is_plain_file_name(n)]
        if bad:
            raise DataError(
                f"cannot save frames named {bad!r}: a frame name becomes a file name, so it must be a "
                f"non-empty str without path separators and not {ADD_INFO_NAME!r}; rename them"
            )

    def save(self, folder: str | os.PathLike) -> None:
        """Write ``<name>.pkl`` per frame and ``add_info.pkl`` into ``folder`` (pickle: pyarrow is optional)."""
        self._check_names_for_saving()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, df in self.data_frames.items():
            with open(folder / f"{name}.pkl", "wb") as f:
                pickle.dump(df, f)
        with open(folder / f"{ADD_INFO_NAME}.pkl", "wb") as f:
            pickle.dump(dict(self.additional_information), f)

    def save_as_zip(self, fname: str | os.PathLike) -> None:
        """Write the same files as ``save`` into one zip file."""
        self._check_names_for_saving()
        with zipfile.ZipFile(fname, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, df in self.data_frames.items():
                zf.writestr(f"{name}.pkl", pickle.dumps(df))
            zf.writestr(f"{ADD_INFO_NAME}.pkl", pickle.dumps(dict(self.additional_information)))

    @staticmethod
    def load(path: str | os.PathLike) -> "DataBundle":
        """Read a bundle written by ``save`` (a folder) or ``save_as_zip`` (a zip file).

        ``.parquet`` files are read too (they need pyarrow), for bundles written by the original library.
        """
        path = Path(path)
        if path.is_dir():
            files = {p.name: p.read_bytes for p in sorted(path.iterdir()) if p.is_file()}
        elif path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                blobs = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
            files = {n: functools.partial(bytes, b) for n, b in blobs.items()}
        else:
            raise DataError(f"cannot load a DataBundle from {str(path)!r}: expected a folder or a zip file written by DataBundle.save / save_as_zip")
        return _bundle_from_files(files, path)

    # Pickles as (frames, additional_information), as the original does.
    def __getstate__(self) -> tuple:
        return (self.data_frames, dict(self.additional_information))

    def __setstate__(self, state: tuple) -> None:
        frames, info = state
        self.data_frames = dict(frames)
        self.additional_information = Obj(info)


def _is_plain_file_name(name: Any) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and os.sep not in name


def _bundle_from_files(files: dict, path: Path) -> DataBundle:
    """Build a bundle from {file name: zero-argument reader of its bytes}."""
    frames, info = {}, {}
    for fname, read in files.items():
        stem, ext = os.path.splitext(os.path.basename(fname))
        if stem == ADD_INFO_NAME and ext == ".pkl":
            info = pickle.loads(read())
        elif ext == ".pkl":
            frames[stem] = pickle.loads(read())
        elif ext == ".parquet":
            frames[stem] = pd.read_parquet(io.BytesIO(read()))
    if not frames:
        raise DataError(f"no frames (*.pkl or *.parquet files) found in {str(path)!r}")
    bundle = DataBundle(**frames)
    bundle.additional_information = Obj(info)
    return bundle


class IndexedDataBundle:
    """An index frame (the rows to work on) over a ``DataBundle``; batches are ones too.

    Example:
        >>> b = DataBundle(index=pd.DataFrame({'label': [0, 1]}))
        >>> idb = IndexedDataBundle(b.index, b)
        >>> idb['index'] is b.index
        True
    """

    def __init__(self, index_frame: pd.DataFrame, bundle: DataBundle) -> None:
        self.index_frame = index_frame
        self.bundle = bundle

    def change_index(self, x: pd.Index | pd.DataFrame) -> "IndexedDataBundle":
        """A pd.Index selects rows of the index frame (``.loc``); a DataFrame replaces it."""
        if isinstance(x, pd.Index):
            return IndexedDataBundle(self.index_frame.loc[x], self.bundle)
        if isinstance(x, pd.DataFrame):
            return IndexedDataBundle(x, self.bundle)
        raise ValueError(
            f"change_index expects a pd.Index (rows to select) or a pd.DataFrame (a new index frame), "
            f"but got {type(x).__name__}"
        )

    def __getitem__(self, key: str) -> pd.DataFrame:
        if key == "index":
            return self.index_frame
        frames = self.bundle.data_frames
        if key not in frames:
            raise KeyError(missing_frame_message(key, list(frames)))
        return frames[key]

    def __contains__(self, key: object) -> bool:
        return key == "index" or key in self.bundle.data_frames

    def describe(self, limits: int | None = None) -> dict:
        return {"index_frame": _describe_frame(self.index_frame, limits), "bundle": self.bundle.describe(limits)}

    def __repr__(self) -> str:
        shape = getattr(self.index_frame, "shape", None)
        return f"IndexedDataBundle(index_frame: {shape[0]}x{shape[1]}, bundle: {self.bundle!r})"
