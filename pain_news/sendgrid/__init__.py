"""What talks to SendGrid besides sending: the client, the event webhook, suppression sync."""
