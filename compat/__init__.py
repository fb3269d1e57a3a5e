"""The ecosystem's image APIs, spoken by this platform: OpenAI Images (``/v1/images/...``,
``/v1/models``) and AUTOMATIC1111 (``/sdapi/v1/...``). Thin translations: every request becomes
ordinary jobs of the caller through generation's serializers and services, and is answered in
the client's own shapes once those jobs end."""
