"""The seed's two consumers: the global notification socket and the chat
room socket that also routes call signaling to the counterpart."""
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from .models import Call, Member

CALL_TYPES = ("call.offer", "call.answer", "call.ice_candidate", "call.end")


class NotificationConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.user = self.scope["user"]
        if not self.user.is_authenticated:
            await self.close(code=4401)
            return
        self.notification_group_name = f"user_{self.user.id}_notifications"
        await self.channel_layer.group_add(self.notification_group_name, self.channel_name)
        await self.accept()
        await self.send(text_data=json.dumps({"type": "connection.ack", "user_id": self.user.id}))

    async def disconnect(self, close_code):
        if getattr(self, "notification_group_name", None):
            await self.channel_layer.group_discard(self.notification_group_name, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        data = json.loads(text_data)
        if data.get("type") == "ping":
            await self.send(text_data=json.dumps({"type": "pong"}))

    async def call_incoming(self, event):
        await self.send(text_data=json.dumps({
            "type": "call.incoming",
            "call_id": event["call_id"],
            "caller_id": event["caller_id"],
            "caller_username": event["caller_username"],
            "call_type": event["call_type"],
            "conversation_id": event.get("conversation_id"),
        }))

    async def call_offer(self, event):
        await self.send(text_data=json.dumps({
            "type": "call.offer",
            "call_id": event["call_id"],
            "caller_id": event["caller_id"],
            "caller_username": event.get("caller_username"),
            "call_type": event.get("call_type"),
            "offer": event["offer"],
            "conversation_id": event.get("conversation_id"),
        }))

    async def call_answer(self, event):
        await self.send(text_data=json.dumps({
            "type": "call.answer",
            "call_id": event["call_id"],
            "answer": event["answer"],
            "receiver_id": event.get("receiver_id"),
        }))

    async def call_ice_candidate(self, event):
        await self.send(text_data=json.dumps({
            "type": "call.ice_candidate",
            "call_id": event["call_id"],
            "candidate": event["candidate"],
            "sender_id": event.get("sender_id"),
        }))

    async def call_end(self, event):
        await self.send(text_data=json.dumps({"type": "call.end", "call_id": event["call_id"]}))

    async def notification_created(self, event):
        await self.send(text_data=json.dumps({"type": "notification.created", "payload": event["payload"]}))


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.user = self.scope["user"]
        self.conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        if not self.user.is_authenticated:
            await self.close(code=4401)
            return
        if not await self.is_member():
            await self.close(code=4403)
            return
        self.room_group_name = f"chat_{self.conversation_id}"
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()
        await self.send(text_data=json.dumps({
            "type": "connection.ack", "user_id": self.user.id, "conversation_id": self.conversation_id}))

    async def disconnect(self, close_code):
        if getattr(self, "room_group_name", None):
            await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    @database_sync_to_async
    def is_member(self):
        return Member.objects.filter(conversation_id=self.conversation_id, user_id=self.user.id).exists()

    @database_sync_to_async
    def get_call(self, call_id):
        return Call.objects.get(id=call_id)

    async def receive(self, text_data=None, bytes_data=None):
        data = json.loads(text_data)
        message_type = data.get("type")
        if message_type == "ping":
            await self.send(text_data=json.dumps({"type": "pong"}))
            return
        if message_type == "call.offer":
            event = {
                "type": "call.offer",
                "call_id": data.get("call_id"),
                "caller_id": data.get("caller_id"),
                "caller_username": data.get("caller_username"),
                "call_type": data.get("call_type"),
                "offer": data.get("offer"),
                "conversation_id": str(self.conversation_id),
            }
        elif message_type == "call.answer":
            event = {
                "type": "call.answer",
                "call_id": data.get("call_id"),
                "answer": data.get("answer"),
                "receiver_id": str(self.user.id),
            }
        elif message_type == "call.ice_candidate":
            event = {
                "type": "call.ice_candidate",
                "call_id": data.get("call_id"),
                "candidate": data.get("candidate"),
                "sender_id": str(self.user.id),
            }
        elif message_type == "call.end":
            event = {"type": "call.end", "call_id": data.get("call_id")}
        else:
            event = {"type": "chat.message", "message": data, "sender_id": str(self.user.id)}

        # Send to the chat room (the seed's existing logic)
        await self.channel_layer.group_send(self.room_group_name, event)

        # ALSO send to the counterpart's global notification socket
        if message_type in CALL_TYPES:
            call = await self.get_call(data.get("call_id"))
            if message_type == "call.answer":
                target = call.caller_id
            else:
                target = call.receiver_id if call.caller_id == str(self.user.id) else call.caller_id
            await self.channel_layer.group_send(
                f"user_{target}_notifications", dict(event, type=message_type.replace(".", "_")))

    async def call_offer(self, event):
        await self.send(text_data=json.dumps(event))

    async def call_answer(self, event):
        await self.send(text_data=json.dumps(event))

    async def call_ice_candidate(self, event):
        await self.send(text_data=json.dumps(event))

    async def call_end(self, event):
        await self.send(text_data=json.dumps(event))

    async def chat_message(self, event):
        await self.send(text_data=json.dumps(dict(event["message"], sender_id=event["sender_id"])))
