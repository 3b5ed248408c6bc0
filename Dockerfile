# One image for the web, worker and beat processes.
FROM python:3.13-slim-bookworm

# Nothing is compiled at run time: the libraries are compiled as they are installed and the
# project once it is copied, so web, worker and beat processes start without compiling them.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=config.settings_production

RUN pip install --no-cache-dir uv==0.13.9 \
    && useradd --create-home --uid 1000 greenlight

WORKDIR /app
COPY pyproject.toml uv.lock .python-version ./
RUN uv sync --locked --no-dev --no-install-project

# .dockerignore keeps the checkout's own state (.env, var/, virtualenvs) out of the image.
COPY . .
RUN python -m compileall -q config lib releases monitoring approvals workspace chat gate \
    subscriptions manage.py
# collectstatic needs settings but no real secrets or services.
RUN SECRET_KEY=build-only-not-secret ALLOWED_HOSTS=localhost FERNET_KEYS=$(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") \
    EMAIL_URL=consolemail:// python manage.py collectstatic --noinput \
    && chown -R greenlight /app

USER greenlight
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
