from django.core.management.base import BaseCommand

from annotation.demo import load_demo


class Command(BaseCommand):
    help = "Create the demo project, its guideline, demo items and demo logins (idempotent)."

    def handle(self, *args, **options):
        project, logins, result = load_demo()
        if result:
            self.stdout.write(f"Imported {result['created']} demo items into “{project.name}”.")
        else:
            self.stdout.write(f"Demo project “{project.name}” is already loaded.")
        self.stdout.write("Demo logins (local use only):")
        for username, password, role in logins:
            self.stdout.write(f"  {role:<9}  {username:<17}  password: {password}")
