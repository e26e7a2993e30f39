output "state_bucket" {
  description = "Bucket holding the environments' Terraform state."
  value       = aws_s3_bucket.state.id
}

output "backend_config" {
  description = "Contents of the environments' backend.hcl: terraform output -raw backend_config > ../environments/dev/backend.hcl"
  value       = "bucket = \"${aws_s3_bucket.state.id}\"\nregion = \"${var.region}\"\n"
}
