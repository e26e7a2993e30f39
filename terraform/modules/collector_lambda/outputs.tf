output "function_name" {
  description = "Name of the collector function (invoke it by hand with `aws lambda invoke`)."
  value       = aws_lambda_function.collector.function_name
}

output "function_arn" {
  description = "ARN of the collector function."
  value       = aws_lambda_function.collector.arn
}

output "role_arn" {
  description = "ARN of the collector's execution role."
  value       = aws_iam_role.collector.arn
}

output "failures_queue_url" {
  description = "Queue receiving invocations that failed all retries."
  value       = aws_sqs_queue.failures.id
}

output "log_group" {
  description = "Log group of the collector."
  value       = aws_cloudwatch_log_group.collector.name
}
