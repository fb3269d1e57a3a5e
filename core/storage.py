"""S3 storage whose presigned URLs come from one boto3 client per process, and whose boto3
sessions share one botocore data loader.

django-storages keeps its boto3 connection per thread, and under ASGI each request runs in a
fresh thread, so every response that minted an image URL built a new client first (200-450 ms
measured by bench/platform.py). boto3 clients are thread-safe; resources are not, so only URL
signing, which is pure computation, uses the shared client.

Each new thread still builds its own session for uploads and reads, and a fresh botocore
session parses botocore's JSON models (S3's API, the endpoints) again: about 0.2 s of CPU
for every request thread, worker thread and storage object. Those files never change while
the process runs, so one loader, which caches what it parsed, serves every session."""

from __future__ import annotations

import functools
import threading

import boto3
import botocore.loaders
import botocore.session
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

_clients: dict[tuple, object] = {}
_lock = threading.Lock()


class _SearchPaths(list):
    """boto3 appends its data folder to the loader's paths on every Session: keep one copy."""

    def append(self, path) -> None:
        if path not in self:
            super().append(path)


class _SharedLoader(botocore.loaders.Loader):
    def __init__(self) -> None:
        super().__init__()
        self._search_paths = _SearchPaths(self._search_paths)


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    return _SharedLoader()


class SharedSigningS3Storage(S3Storage):
    def _create_session(self):
        core = botocore.session.get_session()
        core.register_component("data_loader", _shared_loader())
        if self.session_profile:
            return boto3.Session(profile_name=self.session_profile, botocore_session=core)
        return boto3.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            aws_session_token=self.security_token,
            botocore_session=core,
        )

    def _signing_client(self):
        key = (self.endpoint_url, self.region_name, self.access_key, self.bucket_name)
        client = _clients.get(key)
        if client is None:
            with _lock:
                client = _clients.get(key)
                if client is None:
                    client = self._create_session().client(
                        "s3",
                        region_name=self.region_name,
                        use_ssl=self.use_ssl,
                        endpoint_url=self.endpoint_url,
                        config=self.client_config,
                        verify=self.verify,
                    )
                    _clients[key] = client
        return client

    def url(self, name, parameters=None, expire=None, http_method=None):
        if self.custom_domain or not self.querystring_auth:
            return super().url(name, parameters, expire, http_method)
        params = {**(parameters or {}), "Bucket": self.bucket_name}
        params["Key"] = self._normalize_name(clean_name(name))
        return self._signing_client().generate_presigned_url(
            "get_object",
            Params=params,
            ExpiresIn=self.querystring_expire if expire is None else expire,
            HttpMethod=http_method,
        )
