"""A hub's device registry: deterministic seed, export lines, and import with IoT Hub's importModes."""

from __future__ import annotations

import base64
import copy
import json
import random
import threading
import zlib
from dataclasses import dataclass
from typing import Any

from devstack.hubsim.errors import DeviceErrorCode
from devstack.hubsim.vocab import ImportMode

DEFAULT_DEVICE_COUNT = 20
Device = dict[str, Any]


@dataclass(frozen=True)
class ImportError_:
    """One importErrors.log line."""

    device_id: str
    error_code: int
    error_status: str

    def to_json(self, *, with_device_id: bool = False) -> str:
        """The line as written: `errorCode` and `errorStatus` (which echoes the input line), the shape a public
        walkthrough quotes; `deviceId` first as well only when asked (the shape of an older issue thread)."""
        line: dict[str, object] = {"deviceId": self.device_id} if with_device_id else {}
        line.update({"errorCode": self.error_code, "errorStatus": self.error_status})
        return json.dumps(line)


@dataclass(frozen=True)
class ImportResult:
    lines: int
    applied: int
    errors: list[ImportError_]


def _etag(version: int) -> str:
    return base64.b64encode(str(version).encode()).decode()


def _key(rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(32)).decode()


def _bad_format(line: str, detail: str) -> ImportError_:
    text = f"Invalid device format in line: {line}." + (f" {detail}" if detail else "")
    return ImportError_("", DeviceErrorCode.INVALID_DEVICE_FORMAT, text)


def seed_for(hub_name: str) -> int:
    return zlib.crc32(hub_name.encode())


class Registry:
    """Thread-safe device identities of one hub."""

    def __init__(self, *, seed: int, device_count: int = DEFAULT_DEVICE_COUNT) -> None:
        self._seed = seed
        self._count = device_count
        self._lock = threading.Lock()
        self._devices: dict[str, Device] = {}
        self.reseed()

    def reseed(self) -> None:
        rng = random.Random(self._seed)
        devices = {}
        for index in range(self._count):
            device_id = f"device-{index:03d}"
            devices[device_id] = self._new_device(device_id, rng, status="enabled" if index % 5 else "disabled")
        with self._lock:
            self._devices = devices

    @staticmethod
    def _new_device(device_id: str, rng: random.Random, *, status: str = "enabled") -> Device:
        return {
            "id": device_id,
            "eTag": _etag(1),
            "status": status,
            "statusReason": None,
            "authentication": {
                "symmetricKey": {"primaryKey": _key(rng), "secondaryKey": _key(rng)},
                "x509Thumbprint": {"primaryThumbprint": None, "secondaryThumbprint": None},
                "type": "sas",
            },
            "capabilities": {"iotEdge": False},
            "twinETag": _etag(1),
            "tags": {},
            "properties": {"desired": {}, "reported": {}},
        }

    def devices(self) -> list[Device]:
        with self._lock:
            return [copy.deepcopy(d) for d in self._devices.values()]

    def export_text(self, *, exclude_keys: bool) -> str:
        lines = []
        for device in self.devices():
            if exclude_keys:
                device["authentication"]["symmetricKey"] = {"primaryKey": None, "secondaryKey": None}
            lines.append(json.dumps(device))
        return "".join(f"{line}\n" for line in lines)

    def import_text(self, text: str) -> ImportResult:
        errors: list[ImportError_] = []
        applied = 0
        lines = [line for line in text.splitlines() if line.strip()]
        with self._lock:
            for line in lines:
                error = self._apply_line(line.strip())
                if error is None:
                    applied += 1
                else:
                    errors.append(error)
        return ImportResult(lines=len(lines), applied=applied, errors=errors)

    def _apply_line(self, line: str) -> ImportError_ | None:
        try:
            entry = json.loads(line)
        except ValueError as exc:
            return _bad_format(line, str(exc))
        if not isinstance(entry, dict):
            return _bad_format(line, "")
        device_id = entry.get("id")
        if not isinstance(device_id, str) or not device_id:
            return _bad_format(line, "Device id is required.")
        try:
            mode = ImportMode(entry.get("importMode", ImportMode.CREATE_OR_UPDATE.value))
        except ValueError:
            return ImportError_(device_id, DeviceErrorCode.ARGUMENT_INVALID, f"Invalid importMode in line: {line}.")
        existing = self._devices.get(device_id)
        if mode.value.endswith("IfMatchETag") and existing is not None:
            wanted = entry.get("twinETag" if "Twin" in mode.value else "eTag")
            current = existing["twinETag" if "Twin" in mode.value else "eTag"]
            if wanted not in ("*", current):
                return ImportError_(
                    device_id, DeviceErrorCode.PRECONDITION_FAILED,
                    f"ETag mismatch for device {device_id}. Line: {line}"
                )
        if mode is ImportMode.CREATE and existing is not None:
            return ImportError_(
                device_id, DeviceErrorCode.DEVICE_ALREADY_EXISTS, f"Device {device_id} already exists. Line: {line}"
            )
        needs_existing = mode not in (
            ImportMode.CREATE,
            ImportMode.CREATE_OR_UPDATE,
            ImportMode.CREATE_OR_UPDATE_IF_MATCH_ETAG,
        )
        if needs_existing and existing is None:
            return ImportError_(
                device_id, DeviceErrorCode.DEVICE_NOT_FOUND, f"Device {device_id} not found. Line: {line}"
            )
        if mode in (ImportMode.DELETE, ImportMode.DELETE_IF_MATCH_ETAG):
            del self._devices[device_id]
        elif mode in (ImportMode.UPDATE_TWIN, ImportMode.UPDATE_TWIN_IF_MATCH_ETAG):
            assert existing is not None  # noqa: S101 - checked above (needs_existing)
            self._update_twin(existing, entry)
        else:
            self._devices[device_id] = self._merged(device_id, existing, entry)
        return None

    def _merged(self, device_id: str, existing: Device | None, entry: dict[str, Any]) -> Device:
        rng = random.Random(f"{self._seed}:{device_id}")
        base = copy.deepcopy(existing) if existing is not None else self._new_device(device_id, rng)
        version = int(base64.b64decode(base["eTag"])) + (1 if existing is not None else 0)
        for field in ("status", "statusReason", "capabilities", "tags"):
            if field in entry:
                base[field] = copy.deepcopy(entry[field])
        auth = entry.get("authentication")
        if isinstance(auth, dict) and isinstance(auth.get("symmetricKey"), dict):
            keys = auth["symmetricKey"]
            for name in ("primaryKey", "secondaryKey"):
                if keys.get(name):
                    base["authentication"]["symmetricKey"][name] = keys[name]
        base["eTag"] = _etag(version)
        return base

    @staticmethod
    def _update_twin(device: Device, entry: dict[str, Any]) -> None:
        if isinstance(entry.get("tags"), dict):
            device["tags"].update(copy.deepcopy(entry["tags"]))
        properties = entry.get("properties")
        if isinstance(properties, dict) and isinstance(properties.get("desired"), dict):
            device["properties"]["desired"].update(copy.deepcopy(properties["desired"]))
        device["twinETag"] = _etag(int(base64.b64decode(device["twinETag"])) + 1)
