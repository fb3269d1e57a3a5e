from django.http import JsonResponse


def health(request):
    """Process liveness only; readiness of dependencies is a separate check."""
    return JsonResponse({"status": "healthy", "message": "illuplatform web process is up"})
