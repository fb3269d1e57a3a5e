# One image for web, worker and migrate; they differ only by command (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DJANGO_SETTINGS_MODULE=illuplatform.settings.production
WORKDIR /app
ARG TORCH_VERSION=2.13.0
RUN pip install "torch==${TORCH_VERSION}"
COPY pyproject.toml README.md ./
COPY illuplatform ./illuplatform
COPY accounts ./accounts
COPY characters ./characters
COPY generation ./generation
COPY gpu_worker ./gpu_worker
COPY templates ./templates
COPY manage.py ./
RUN pip install ".[gpu,fp8]" && pip uninstall -y onnxruntime && pip install --force-reinstall --no-deps "onnxruntime-gpu>=1.19" \
    && pip install --no-deps mediapipe==0.10.21
RUN useradd --create-home illu && chown -R illu /app
USER illu
EXPOSE 8000
CMD ["uvicorn", "illuplatform.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
