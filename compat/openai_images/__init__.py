"""The OpenAI Images API: ``POST /v1/images/generations``, ``/edits``, ``/variations`` and
``GET /v1/models``, with OpenAI's request, answer and error shapes."""
