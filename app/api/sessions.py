"""Sessions: yours to see and end; any user's for staff to see, and for admins to end."""

from flask.views import MethodView
from flask_praetorian import current_user_id
from sqlalchemy import select

from app.access.permissions import SESSION, USERS_INSPECT, USERS_WRITE
from app.access.sessions import current_session, end_session, end_sessions
from app.api.blueprint import Blueprint
from app.api.lookup import user_or_404
from app.audit import record_event
from app.errors import ApiError
from app.extensions import db
from app.models import UserSession
from app.models.columns import utcnow
from app.pagination import Order, paginate
from app.schemas.common import ErrorSchema
from app.schemas.session import SessionListArgsSchema, SessionPageSchema, SessionSchema

blp = Blueprint("sessions", __name__, url_prefix="/users", description="Sessions.")

MOST_RECENT_FIRST = Order((UserSession.last_used_at, UserSession.id), descending=True)


def live_sessions_of(user_id: int):
    """The sessions of the user that have neither ended nor expired."""
    now = utcnow()
    return select(UserSession).where(
        UserSession.user_id == user_id,
        UserSession.ended_at.is_(None),
        UserSession.expires_at > now,
        UserSession.idle_expires_at > now,
    )


@blp.route("/me/sessions")
class MySessions(MethodView):
    @blp.auth_required(SESSION)
    @blp.list_arguments(SessionListArgsSchema)
    @blp.response(200, SessionPageSchema)
    def get(self, args):
        """List your live sessions, the most recently used first; current marks this one."""
        return paginate(live_sessions_of(current_user_id()), args, MOST_RECENT_FIRST, SessionSchema)

    @blp.auth_required(SESSION)
    @blp.response(204)
    def delete(self):
        """End every session of yours but this one."""
        session = current_session()
        end_sessions(session.user_id, "ended_by_user", keep=session.id)
        db.session.commit()


@blp.route("/me/sessions/<int:session_id>", methods=["DELETE"])
@blp.auth_required(SESSION)
@blp.alt_response(404, schema=ErrorSchema, description="No live session of yours has that id.")
@blp.response(204)
def end_my_session(session_id: int):
    """End one of your sessions (this one too, like a logout)."""
    session = db.session.get(UserSession, session_id)
    if session is None or session.user_id != current_user_id() or session.is_over(utcnow()):
        raise ApiError(404, "not_found", "No live session of yours has that id.")
    end_session(session, "ended_by_user")
    db.session.commit()


@blp.route("/<int:user_id>/sessions")
class UserSessions(MethodView):
    @blp.auth_required(USERS_INSPECT, session=True)
    @blp.alt_response(404, schema=ErrorSchema, description="No user has that id (not_found).")
    @blp.list_arguments(SessionListArgsSchema)
    @blp.response(200, SessionPageSchema)
    def get(self, args, user_id: int):
        """List a user's live sessions, the most recently used first."""
        user = user_or_404(user_id)
        return paginate(live_sessions_of(user.user_id), args, MOST_RECENT_FIRST, SessionSchema)

    @blp.auth_required(USERS_WRITE, session=True)
    @blp.alt_response(404, schema=ErrorSchema, description="No user has that id (not_found).")
    @blp.response(204)
    def delete(self, user_id: int):
        """End every session of a user: their tokens stop working at once."""
        user = user_or_404(user_id)
        ended = end_sessions(user.user_id, "ended_by_admin")
        record_event("user.sessions_ended", user.user_id, {"sessions": [ended, 0]})
        db.session.commit()
