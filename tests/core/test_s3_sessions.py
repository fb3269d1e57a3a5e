"""Every thread's S3 session reuses the botocore models the process already parsed (each
fresh parse cost about 0.2 s of CPU per request thread, worker thread and storage object)."""

from __future__ import annotations

import threading

import botocore.loaders
import pytest
from django.conf import settings
from django.core.files.storage import storages


def fresh_s3_storage():
    return storages.create_storage(settings.STORAGES["default"])


@pytest.fixture
def parsed_model_files(monkeypatch) -> list[str]:
    """The botocore JSON files parsed from now on (the real parser still runs)."""
    parsed: list[str] = []
    parse = botocore.loaders.JSONFileLoader.load_file

    def spy(self, file_path):
        parsed.append(file_path)
        return parse(self, file_path)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", spy)
    return parsed


def test_a_new_thread_and_storage_parse_no_model_file_again(parsed_model_files):
    assert settings.STORAGE_BACKEND == "s3"
    fresh_s3_storage().exists("warm-up")  # the process's first session parses what S3 needs
    parsed_model_files.clear()
    answers = []
    thread = threading.Thread(target=lambda: answers.append(fresh_s3_storage().exists("other")))
    thread.start()
    thread.join()
    assert answers == [False]  # it did reach S3
    assert parsed_model_files == []


def test_the_shared_loader_keeps_one_copy_of_each_search_path():
    storage = fresh_s3_storage()
    sessions = [storage._create_session() for _ in range(5)]
    loaders = {id(session._session.get_component("data_loader")) for session in sessions}
    assert len(loaders) == 1
    paths = sessions[0]._session.get_component("data_loader").search_paths
    assert len(paths) == len(set(paths))
