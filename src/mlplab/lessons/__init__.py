"""Lessons: each reproduces one program of the lecture notes with mlplab, prints its numbers,
saves its figures and adds a section to an HTML report.

>>> from mlplab.lessons import run_lessons
>>> results = run_lessons(["logic-gates-xor"], out_dir="lessons_out")
"""
from mlplab.lessons.result import LessonResult
from mlplab.lessons.base import LESSONS, Lesson, LessonContext, lesson, lesson_names, run_lesson, run_lessons

__all__ = ["LESSONS", "Lesson", "LessonContext", "LessonResult", "lesson", "lesson_names", "run_lesson",
           "run_lessons"]
