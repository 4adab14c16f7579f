"""Every model, imported here so Alembic and the app see the whole schema."""
from sanctum.models.agent import STATUSES, Agent, agent_roles, agent_users
from sanctum.models.announcement import ANNOUNCEMENT_LEVELS, Announcement, AnnouncementDismissal
from sanctum.models.audit import AuditChainHead, AuditEvent
from sanctum.models.bridge import BridgeMessage
from sanctum.models.chat import ChatMessage, ChatQuota, ChatSession, Run, UsageDaily
from sanctum.models.health import HealthCheck
from sanctum.models.discovery import BrocaLink, BrocaSource
from sanctum.models.invitation import Invitation, InvitationBatch, InvitationBatchRow
from sanctum.models.job import JobRecord
from sanctum.models.mail import Mail
from sanctum.models.moderation import Flag, ModerationAction, ModerationItem, Sanction, ScreeningRule, sanction_agents
from sanctum.models.notification import Notification
from sanctum.models.privacy import DataExport, UserErasure
from sanctum.models.rbac import Permission, Role, UserPermission, role_permissions
from sanctum.models.setting import Setting
from sanctum.models.token import ApiToken
from sanctum.models.tool import Tool
from sanctum.models.user import AccountToken, LoginThrottle, User, UserSession

__all__ = [
    "Flag",
    "ModerationAction",
    "ModerationItem",
    "Sanction",
    "ScreeningRule",
    "sanction_agents",
    "ANNOUNCEMENT_LEVELS",
    "Agent",
    "Announcement",
    "AnnouncementDismissal",
    "Notification",
    "BridgeMessage",
    "ChatMessage",
    "ChatQuota",
    "ChatSession",
    "Run",
    "UsageDaily",
    "HealthCheck",
    "STATUSES",
    "Tool",
    "agent_roles",
    "agent_users",
    "AccountToken",
    "ApiToken",
    "AuditChainHead",
    "AuditEvent",
    "BrocaLink",
    "BrocaSource",
    "DataExport",
    "Invitation",
    "InvitationBatch",
    "InvitationBatchRow",
    "JobRecord",
    "LoginThrottle",
    "Mail",
    "Permission",
    "Role",
    "Setting",
    "User",
    "UserErasure",
    "UserPermission",
    "UserSession",
    "role_permissions",
]
