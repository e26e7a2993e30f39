terraform {
  required_version = ">= 1.11.0, < 2.0.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
  # The bootstrap keeps its own (tiny) state locally: it creates the bucket every other state
  # lives in. Keep terraform.tfstate of this folder safe, or re-import the bucket if it is lost.
}
