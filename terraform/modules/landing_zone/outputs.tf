output "bucket" {
  description = "Name of the landing bucket (LANDING_BUCKET)."
  value       = aws_s3_bucket.landing.id
}

output "bucket_arn" {
  description = "ARN of the landing bucket."
  value       = aws_s3_bucket.landing.arn
}

output "landing_prefix" {
  description = "Key prefix of the landing zone (LANDING_PREFIX)."
  value       = var.landing_prefix
}

output "queue_url" {
  description = "URL of the notification queue (LANDING_QUEUE_URL)."
  value       = aws_sqs_queue.events.id
}

output "queue_arn" {
  description = "ARN of the notification queue."
  value       = aws_sqs_queue.events.arn
}

output "dead_letter_queue_arn" {
  description = "ARN of the notification queue's dead-letter queue."
  value       = aws_sqs_queue.dead_letter.arn
}
