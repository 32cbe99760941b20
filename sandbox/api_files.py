"""Fakes of files.getUploadURLExternal / completeUploadExternal and the upload URL between them."""

from __future__ import annotations

import mimetypes
import weakref
from dataclasses import dataclass, field

from sandbox import messages as msgs
from sandbox.webapi import Args, Handler, bot_channel, bot_message
from sandbox.world import JSON, SlackError, World

MAX_UPLOAD = 1_000_000_000  # Slack's limit is 1 GB per file


@dataclass
class Files:
    """A workspace's uploads: where the bytes go, and every file by id (oldest first)."""

    upload_root: str = ""
    by_id: dict[str, JSON] = field(default_factory=dict)


_FILES: weakref.WeakKeyDictionary[World, Files] = weakref.WeakKeyDictionary()


def files_of(world: World) -> Files:
    with world.lock:
        found = _FILES.get(world)
        if found is None:
            found = _FILES[world] = Files()
        return found


def serve_uploads_at(world: World, root: str) -> None:
    """Where upload URLs point: the sandbox's `/upload` route (set when the server starts)."""
    files_of(world).upload_root = root.rstrip("/")


def uploads(world: World) -> list[JSON]:
    """Files whose upload was completed, oldest first (live records: copy before handing out)."""
    return [f for f in files_of(world).by_id.values() if f["completed"]]


def get_upload_url(world: World, args: Args) -> JSON:
    name = args.need("filename")
    length = args.number("length", -1)
    if length <= 0:
        raise SlackError("invalid_arguments", ["[ERROR] missing required field: length"])
    if length > MAX_UPLOAD:
        raise SlackError("file_upload_size_restricted")
    store = files_of(world)
    if not store.upload_root:
        raise SlackError("file_uploads_disabled")
    file_id = world.new_id("F")
    store.by_id[file_id] = {
        "id": file_id,
        "name": name,
        "title": name,
        "length": length,
        "alt_txt": args.get("alt_txt") or "",
        "snippet_type": args.get("snippet_type") or "",
        "data": None,
        "completed": False,
        "channels": [],
        "initial_comment": "",
        "thread_ts": None,
        "created": int(world.now()),
    }
    return {"upload_url": f"{store.upload_root}/{file_id}", "file_id": file_id}


def receive(world: World, file_id: str, data: bytes) -> tuple[int, str]:
    """The POST of a file's bytes to its upload URL: (HTTP status, body) as files.slack.com answers."""
    with world.lock:
        record = files_of(world).by_id.get(file_id)
        if record is None or record["completed"]:
            return 404, "file_not_found"
        record["data"] = bytes(data)
        return 200, f"OK - {len(data)}"


def _file_object(world: World, record: JSON) -> JSON:
    """A file object as Slack returns it (the fields a client reads)."""
    name, file_id = str(record["name"]), str(record["id"])
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
    base = f"https://files.slack.com/files-pri/{world.team['id']}-{file_id}"
    return {
        "id": file_id,
        "created": record["created"],
        "timestamp": record["created"],
        "name": name,
        "title": record["title"],
        "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
        "filetype": extension,
        "pretty_type": extension.upper(),
        "user": world.bot_user_id,
        "editable": False,
        "size": len(record["data"] or b""),
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": bool(record["channels"]) and not record.get("private_share"),
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": f"{base}/{name}",
        "url_private_download": f"{base}/download/{name}",
        "permalink": f"https://{world.domain}.slack.com/files/{world.bot_user_id}/{file_id}/{name}",
        "permalink_public": f"https://slack-files.com/{world.team['id']}-{file_id}",
        "alt_txt": record["alt_txt"] or None,
    }


def _share_target(world: World, ref: str) -> JSON:
    channel = bot_channel(world, ref, write=True, allow_user=True)
    if not world.is_member(str(channel["id"]), world.bot_user_id):
        raise SlackError("not_in_channel")
    return channel


def complete_upload(world: World, args: Args) -> JSON:
    listed = args.decoded("files", "invalid_arguments")
    if not isinstance(listed, list) or not listed or not all(isinstance(f, dict) and f.get("id") for f in listed):
        raise SlackError("invalid_arguments", ["[ERROR] files must be an array of {id, title}"])
    store = files_of(world)
    records = []
    for item in listed:
        record = store.by_id.get(str(item["id"]))
        if record is None or record["completed"] or record["data"] is None:
            raise SlackError("file_not_found")
        records.append((record, item))
    refs = [args.get("channel_id")] if args.get("channel_id") else args.id_list("channels")
    thread_ts = args.get("thread_ts")
    if thread_ts and len(refs) != 1:
        raise SlackError("invalid_arguments", ["[ERROR] thread_ts needs exactly one channel"])
    targets = [_share_target(world, str(ref)) for ref in refs if ref]
    for record, item in records:
        record["title"] = str(item.get("title") or record["name"])
        record["completed"] = True
        record["channels"] = [str(c["id"]) for c in targets]
        record["private_share"] = any(c.get("is_private") for c in targets)
        record["initial_comment"] = args.get("initial_comment") or ""
        record["thread_ts"] = thread_ts
    shared = [_file_object(world, r) for r, _ in records]
    for channel in targets:
        fields: JSON = {"text": args.get("initial_comment") or "", "files": shared, "upload": True}
        fields["display_as_bot"] = False
        if thread_ts:
            fields["thread_ts"] = thread_ts
        msgs.post(world, str(channel["id"]), bot_message(world, fields, Args({})))
    return {"files": shared}


HANDLERS: dict[str, Handler] = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
}
