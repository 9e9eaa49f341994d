"""The playground's web server (Starlette + uvicorn): the page, one WebSocket per tab, and the exports.

Each WebSocket connection owns one `Session` (so two tabs are two independent sessions); training runs
in a worker thread, a few epochs per update, at most `UPDATE_RATE` updates a second; when the tab
closes, the connection ends and so does its training. Messages are JSON; nothing is evaluated.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
import traceback
import webbrowser
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from mlplab.playground import data as playground_data
from mlplab.playground.session import MAX_LAYERS, MAX_UNITS, PlaygroundError, Session

STATIC = Path(__file__).parent / "static"
MAX_SESSIONS = 16  # open tabs training at once
MAX_MESSAGE_BYTES = 2 * playground_data.MAX_UPLOAD_BYTES  # a CSV upload plus JSON quoting
UPDATE_RATE = 10  # updates per second, at most
EPOCHS_PER_UPDATE = 5  # so a quick network stays watchable instead of finishing in a blink
MAX_EPOCHS = 100_000  # training pauses itself here
MAX_JSON_DEPTH = 8  # the deepest a message needs is 4 (config → layers → layer); more is refused unparsed
LIMITS = {"max_layers": MAX_LAYERS, "max_units": MAX_UNITS, "max_samples": playground_data.MAX_SAMPLES,
          "max_upload_bytes": playground_data.MAX_UPLOAD_BYTES, "update_rate": UPDATE_RATE,
          "max_sessions": MAX_SESSIONS}


class Connection:
    """One tab: its session, whether it is playing, and the task that trains while it plays."""

    def __init__(self, websocket: WebSocket, session_id: str):
        self.websocket, self.id = websocket, session_id
        self.session: Session | None = None
        self.lock = asyncio.Lock()  # one thing at a time touches the model: training, export, explain
        self.playing = False
        self.trainer: asyncio.Task | None = None

    async def send(self, message: dict) -> None:
        await self.websocket.send_text(json.dumps(message, allow_nan=False, default=_plain))

    async def run(self) -> None:
        from mlplab.playground.lessons import menu

        await self.send({"type": "hello", "session": self.id, "limits": LIMITS, "lessons": menu()})
        while True:
            try:
                text = await self.websocket.receive_text()
            except WebSocketDisconnect:
                return
            try:
                await self.handle(_parse(text))
            except (ValueError, TypeError) as err:  # PlaygroundError, or mlplab's own argument checks
                await self.send({"type": "error", "message": str(err)})
            except (ArithmeticError, RecursionError, MemoryError) as err:  # numbers the network cannot take
                await self.send({"type": "error", "message": "The request could not be carried out with these "
                                 f"numbers ({type(err).__name__}: {err}); lower the learning rate or rescale the data."})
            except Exception as err:  # a bug: keep the tab alive and say so
                traceback.print_exc()
                await self.send({"type": "error", "message": f"Internal error ({type(err).__name__}: {err})."})

    async def handle(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "config":
            await self.pause()
            async with self.lock:
                if self.session is None:
                    self.session = await asyncio.to_thread(Session, message.get("config"))
                else:
                    await asyncio.to_thread(self.session.configure, message.get("config"))
            await self.send_state()
            return
        if kind == "upload":  # a new table: a new task, so the loss goes back to the task's default
            columns, points = _points_from_csv(message.get("csv"))
            config = dict(self.session.config if self.session else {}, dataset="custom", points=points,
                          columns=columns, loss="auto", lesson=None, lesson_step=0)
            config.pop("task", None)
            await self.handle({"type": "config", "config": config})
            return
        if kind == "import_script":  # an exported playground_model.py: its settings line, read as JSON
            from mlplab.playground.export import settings_from_script

            text = message.get("text")
            if isinstance(text, str) and _depth(text) > MAX_JSON_DEPTH:
                raise PlaygroundError(f"import: the script's settings are nested deeper than {MAX_JSON_DEPTH} levels.")
            await self.handle({"type": "config", "config": settings_from_script(text)})
            return
        if kind == "lesson":
            from mlplab.playground.lessons import lesson_page

            await self.send({"type": "lesson", "lesson": lesson_page(message.get("name"))})
            return
        if self.session is None:
            raise PlaygroundError("Send the settings first: {\"type\": \"config\", \"config\": {...}}.")
        if kind == "play":
            self.playing = True
            if self.trainer is None or self.trainer.done():
                self.trainer = asyncio.create_task(self.train())
            await self.send({"type": "status", "playing": True})
        elif kind == "pause":
            await self.pause()
            await self.send_snapshot()
            await self.send({"type": "status", "playing": False})
        elif kind == "step":
            await self.pause()
            try:
                async with self.lock:
                    await asyncio.to_thread(self.session.train_epochs, 1)
            finally:  # after a divergence too: the doctor's finding comes with the restored network
                await self.send_snapshot()
            await self.send({"type": "status", "playing": False})
        elif kind == "reset":
            await self.pause()
            async with self.lock:
                await asyncio.to_thread(self.session.reset)
            await self.send_state()
        elif kind == "view":
            async with self.lock:
                self.session.set_view(message.get("view"))
            await self.send(self.session.data_message())
            await self.send_snapshot()
        elif kind == "import":
            from mlplab.playground.imports import load_bytes

            await self.pause()
            async with self.lock:
                model = await asyncio.to_thread(load_bytes, message.get("model"))
                await asyncio.to_thread(self.session.adopt, model)
            await self.send_state()
        elif kind == "explain":
            async with self.lock:
                text = await asyncio.to_thread(self.session.explain)
            await self.send({"type": "explain", "text": text})
        else:
            raise PlaygroundError(f"type: expected config, upload, lesson, view, import, import_script, play, pause, step, reset or "
                                  f"explain; "
                                  f"received {kind!r}.")

    async def send_state(self) -> None:
        await self.send(self.session.data_message())
        await self.send_snapshot()
        await self.send({"type": "status", "playing": False})

    async def send_snapshot(self) -> None:
        async with self.lock:
            snapshot = await asyncio.to_thread(self.session.snapshot)
        await self.send(snapshot)

    async def train(self) -> None:
        """While playing: train up to EPOCHS_PER_UPDATE epochs (about one update interval), send an update."""
        try:
            while self.playing:
                async with self.lock:
                    if not self.playing:
                        break
                    await asyncio.to_thread(self.session.train_for, 1 / UPDATE_RATE, EPOCHS_PER_UPDATE)
                    snapshot = await asyncio.to_thread(self.session.snapshot)
                await self.send(snapshot)
                if self.session.epoch >= MAX_EPOCHS:
                    self.playing = False
                    await self.send({"type": "error", "message": f"Training paused at {MAX_EPOCHS} epochs."})
                    await self.send({"type": "status", "playing": False})
                await asyncio.sleep(1 / UPDATE_RATE)
        except (WebSocketDisconnect, OSError):  # the tab went away mid-send
            self.playing = False
        except Exception as err:  # e.g. training diverged: pause and tell the page (and the doctor)
            self.playing = False
            try:
                await self.send_snapshot()
                await self.send({"type": "error", "message": str(err)})
                await self.send({"type": "status", "playing": False})
            except Exception:  # the tab is gone too
                pass

    async def pause(self) -> None:
        self.playing = False
        if self.trainer is not None:
            await self.trainer
            self.trainer = None

    def stop(self) -> None:
        self.playing = False
        if self.trainer is not None:
            self.trainer.cancel()


def _plain(value):
    """JSON for NumPy scalars (metrics come back as numpy floats)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot send {type(value).__name__}")


def _parse(text: str) -> dict:
    if len(text) > MAX_MESSAGE_BYTES:
        raise PlaygroundError(f"Message too large: at most {MAX_MESSAGE_BYTES // 1000} kB.")
    if _depth(text) > MAX_JSON_DEPTH:
        raise PlaygroundError(f"Message nested too deeply: at most {MAX_JSON_DEPTH} levels of [ ] and {{ }}.")
    try:
        message = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise PlaygroundError("Messages must be JSON objects such as {\"type\": \"play\"}.") from None
    if not isinstance(message, dict):
        raise PlaygroundError("Messages must be JSON objects such as {\"type\": \"play\"}.")
    return message


def _depth(text: str) -> int:
    """The deepest nesting of [ and { in a JSON text, outside strings (checked before parsing it)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _points_from_csv(text) -> tuple:
    try:
        columns, x, y = playground_data.parse_table(text)
    except ValueError as err:
        raise PlaygroundError(str(err)) from None
    return columns, [[*row, float(label)] for row, label in zip(x.tolist(), y.tolist())]


# -- the app ------------------------------------------------------------------------------------
def create_app(allowed_hosts: list[str] | None = None) -> Starlette:
    """The ASGI app: GET / (the page), /static/..., the WebSocket /ws and GET /api/session/{id}/{export}.

    allowed_hosts: the Host names requests may carry (e.g. ["127.0.0.1", "localhost"]), so that a web page
    whose domain is re-pointed at 127.0.0.1 (DNS rebinding) cannot reach the server; None allows any."""
    sessions: dict[str, Connection] = {}

    async def index(request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def websocket_endpoint(websocket: WebSocket):
        origin, host = websocket.headers.get("origin"), websocket.headers.get("host")
        if origin and urlsplit(origin).netloc != host:  # another site's page may not drive this server
            await websocket.close(code=1008)
            return
        await websocket.accept()
        if len(sessions) >= MAX_SESSIONS:
            await websocket.send_text(json.dumps({"type": "error", "message":
                                                  f"Too many open playground tabs (at most {MAX_SESSIONS}): "
                                                  "close one and reload."}))
            await websocket.close(code=1013)
            return
        connection = Connection(websocket, secrets.token_urlsafe(16))
        sessions[connection.id] = connection
        try:
            await connection.run()
        finally:
            connection.stop()
            sessions.pop(connection.id, None)

    async def export(request):
        connection = sessions.get(request.path_params["session"])
        if connection is None or connection.session is None:
            return PlainTextResponse("No such session: the tab that owned it was closed. Reload the page.",
                                     status_code=404)
        kind = request.path_params["kind"]
        async with connection.lock:
            session = connection.session
            if kind == "model":
                content, name = await asyncio.to_thread(session.model_file)
                media = "application/octet-stream"
            elif kind == "code":
                content, name, media = session.script(), "playground_model.py", "text/x-python; charset=utf-8"
            elif kind == "data":
                content, name, media = session.data_csv(), "playground_data.csv", "text/csv; charset=utf-8"
            elif kind == "onnx":
                try:
                    content, name = await asyncio.to_thread(session.onnx_file)
                except ImportError as err:
                    return PlainTextResponse(str(err), status_code=501)
                media = "application/octet-stream"
            else:
                return PlainTextResponse("Unknown export: expected model, onnx, code or data.", status_code=404)
        return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def info(request):
        return JSONResponse({"limits": LIMITS, "sessions": len(sessions)})

    app = Starlette(routes=[
        Route("/", index),
        Route("/api/info", info),
        Route("/api/session/{session}/{kind}", export),
        WebSocketRoute("/ws", websocket_endpoint),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.state.sessions = sessions
    return app


def serve(host: str = "127.0.0.1", port: int = 0, open_browser: bool = True, lesson: str | None = None) -> None:
    """Serve the playground on host:port (0: a free port) until Ctrl-C; prints the URL (of `lesson`'s guided
    page when given), opens a browser."""
    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ValueError(f"Invalid value for argument `--port`: cannot listen on {host}:{port} ({err.strerror}). "
                         "Pick another port, or leave --port out for a free one.") from None
    url = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}/"
    if lesson is not None:
        from urllib.parse import quote

        url += "#" + quote(json.dumps({"lesson": lesson}))
    print(f"mlplab playground: {url}  (Ctrl-C to stop)", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print("warning: listening beyond this machine; anyone who can reach it can use the playground.", flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    loopback = host in ("127.0.0.1", "localhost")
    app = create_app(allowed_hosts=["127.0.0.1", "localhost"] if loopback else None)
    config = uvicorn.Config(app, log_level="warning", ws_max_size=MAX_MESSAGE_BYTES)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
