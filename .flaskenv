# Read by the flask command (python-dotenv) for local runs only; Heroku never reads it.
FLASK_APP=app
APP_CONFIG=development
FLASK_RUN_HOST=127.0.0.1
FLASK_RUN_PORT=5000
