"""The S3-compatible backend of the content-addressed store (AWS S3, MinIO, Ceph RGW; tested against moto's server).

Objects live at `prefix/<aa>/<bb>/<sha256>` (media and assets) and `prefix/exports/<name>`. Reads for decoding go
through a local cache under DATA_DIR (one per machine; a file is verified by its hash before it is used). Browser
reads are streamed by the app with HTTP Range, or redirected to a short-lived presigned URL when
CLINLABEL_S3_PRESIGN is on (the bucket must then be reachable from the browsers).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import Response, redirect, request

from server.storage_keys import CHUNK, _EXPORT, check_key, content_key, hash_file, put_bytes


class S3MediaStore:
    kind = "s3"

    def __init__(self, url: str, config: dict):
        import boto3
        from botocore.config import Config

        rest = url[len("s3://"):]
        self.bucket, _, prefix = rest.partition("/")
        if not self.bucket:
            raise SystemExit("CLINLABEL_MEDIA_URL=s3://bucket/prefix needs a bucket name")
        self.prefix = prefix.strip("/")
        self.client = boto3.client(
            "s3", endpoint_url=config.get("S3_ENDPOINT_URL") or None,
            region_name=config.get("S3_REGION") or "us-east-1",
            aws_access_key_id=config.get("S3_ACCESS_KEY_ID") or None,
            aws_secret_access_key=config.get("S3_SECRET_ACCESS_KEY") or None,
            config=Config(signature_version="s3v4", retries={"max_attempts": 4, "mode": "standard"},
                          s3={"addressing_style": "path"}))
        self.cache = Path(config["DATA_DIR"]).resolve() / "s3-cache"
        self.presign = bool(config.get("S3_PRESIGN"))

    def _object(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object(check_key(key)))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def put_file(self, source) -> tuple[str, str, bool, int]:
        digest, size = hash_file(source)
        key = content_key(digest)
        created = not self.exists(key)
        if created:  # boto3 switches to multipart above 8 MB and streams the file from disk
            self.client.upload_file(str(source), self.bucket, self._object(key), ExtraArgs={"Metadata": {"sha256": digest}})
        return digest, key, created, size

    def put(self, data: bytes) -> tuple[str, str, bool]:
        return put_bytes(self, data)

    def path(self, key: str) -> Path:
        return self.local_path(key)

    def local_path(self, key: str) -> Path:
        """The object as a local file (downloaded once per machine, hash-checked)."""
        target = self.cache / check_key(key)
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-")
        os.close(fd)
        try:
            self.client.download_file(self.bucket, self._object(key), tmp)
            digest, _ = hash_file(tmp)
            if digest != key.rsplit("/", 1)[-1]:
                raise OSError("an object in the bucket does not match its content hash")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target

    def send(self, key: str, mimetype: str, etag: str):
        obj = self._object(check_key(key))
        if self.presign:
            url = self.client.generate_presigned_url("get_object", ExpiresIn=300, Params={
                "Bucket": self.bucket, "Key": obj, "ResponseContentType": mimetype})
            return redirect(url, 302)
        total = self.client.head_object(Bucket=self.bucket, Key=obj)["ContentLength"]
        rng = request.range
        headers = {"Accept-Ranges": "bytes", "ETag": f'"{etag}"'}
        if rng is not None:
            bounds = rng.range_for_length(total) if rng.units == "bytes" and len(rng.ranges) == 1 else None
            if bounds is None:
                return Response(status=416, headers={"Content-Range": f"bytes */{total}"})
            start, stop = bounds
            body = self.client.get_object(Bucket=self.bucket, Key=obj, Range=f"bytes={start}-{stop - 1}")["Body"]
            headers.update({"Content-Range": f"bytes {start}-{stop - 1}/{total}", "Content-Length": str(stop - start)})
            return Response(body.iter_chunks(CHUNK), status=206, mimetype=mimetype, headers=headers, direct_passthrough=True)
        body = self.client.get_object(Bucket=self.bucket, Key=obj)["Body"]
        headers["Content-Length"] = str(total)
        return Response(body.iter_chunks(CHUNK), status=200, mimetype=mimetype, headers=headers, direct_passthrough=True)

    def remove_unreferenced(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._object(check_key(key)))
        except ValueError:
            pass

    # -- exports -------------------------------------------------------------------------------------------------
    def export_dir(self, config: dict) -> str:
        os.makedirs(config["EXPORT_DIR"], exist_ok=True)  # staging only; the file is moved to the bucket
        return config["EXPORT_DIR"]

    def save_export(self, config: dict, tmp_path: str, name: str) -> None:
        try:
            self.client.upload_file(tmp_path, self.bucket, self._object(f"exports/{name}"))
        finally:
            os.unlink(tmp_path)

    def send_export(self, config: dict, name: str, mimetype: str, download_name: str):
        from botocore.exceptions import ClientError

        if not _EXPORT.match(name):
            return None
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._object(f"exports/{name}"))
        except ClientError:
            return None
        return Response(obj["Body"].iter_chunks(CHUNK), mimetype=mimetype, direct_passthrough=True, headers={
            "Content-Disposition": f'attachment; filename="{download_name}"',
            "Content-Length": str(obj["ContentLength"])})
