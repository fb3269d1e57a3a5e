"""S3 storage whose presigned URLs come from one boto3 client per process.

django-storages keeps its boto3 connection per thread, and under ASGI each request runs in a
fresh thread, so every response that minted an image URL built a new client first (200-450 ms
measured by bench/platform.py). boto3 clients are thread-safe; resources are not, so only URL
signing, which is pure computation, uses the shared client."""

from __future__ import annotations

import threading

from storages.backends.s3 import S3Storage
from storages.utils import clean_name

_clients: dict[tuple, object] = {}
_lock = threading.Lock()


class SharedSigningS3Storage(S3Storage):
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
