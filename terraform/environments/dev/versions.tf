terraform {
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
    external = {
      source  = "hashicorp/external"
      version = "~> 2.3"
    }
  }

  # Remote state in the bucket made by terraform/bootstrap; S3-native locking (use_lockfile).
  # bucket and region come from backend.hcl (written by the bootstrap step, not committed):
  #   terraform -chdir=terraform/environments/dev init -backend-config=backend.hcl
  backend "s3" {
    key          = "medallion/dev/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
